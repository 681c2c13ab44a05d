# A small limit, so that a readable example exceeds it.
scp_size_limit = 320
