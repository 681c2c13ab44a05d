// Answers IAM authorization questions with @cloud-copilot/iam-simulate, for
// tests/test_differential_iam_simulate.py. One process for every question:
// JSON lines on stdin, one JSON line per question on stdout, in order.
//
//   {"op": "scps", "id": "S1", "levels": [{"orgIdentifier": "r-root", "policies": [{"name": "...", "policy": {...}}]}, ...]}
//      registers the SCPs of one account's path, root first, the account last;
//   {"op": "ask", "id": "q1", "scps": "S1", "principal": "arn:...", "action": "bedrock:InvokeModel",
//    "resource": "arn:...", "account": "123456789012", "context": {"aws:RequestedRegion": "us-east-1", ...}}
//      answers {"id": "q1", "scp": <the SCPs' verdict>, "result": <the overall verdict>,
//               "ignoredContextKeys": [...]} or {"id": "q1", "error": {...}}; a verdict is
//      "Allowed", "ExplicitlyDenied" or "ImplicitlyDenied".
//
// The principal's own policies allow everything (an administrator). "scp" is
// the simulator's analysis of the SCPs alone: the question regionguard answers
// ("do SCPs stand in the way?"); "result" adds what SCPs do not decide, such
// as a KMS key policy. "scps": null asks with no SCP at all.
import { createInterface } from 'node:readline'
import { runSimulation } from '@cloud-copilot/iam-simulate'

const ADMIN = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }
const scpSets = new Map()
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })

for await (const line of lines) {
  if (!line.trim()) continue
  const message = JSON.parse(line)
  if (message.op === 'scps') {
    scpSets.set(message.id, message.levels)
    continue
  }
  let answer
  try {
    const levels = message.scps === null ? [] : scpSets.get(message.scps)
    if (levels === undefined) throw new Error(`unknown SCP set ${message.scps}`)
    const response = await runSimulation(
      {
        request: {
          principal: message.principal,
          action: message.action,
          resource: { resource: message.resource, accountId: message.account },
          contextVariables: message.context
        },
        identityPolicies: [{ name: 'Administrator', policy: ADMIN }],
        serviceControlPolicies: levels,
        resourceControlPolicies: []
      },
      {}
    )
    if (response.resultType === 'single') {
      answer = {
        id: message.id,
        scp: response.result.analysis.scpAnalysis.result,
        result: response.overallResult,
        ignoredContextKeys: response.result.ignoredContextKeys ?? []
      }
    } else if (response.resultType === 'error') {
      answer = { id: message.id, error: response.errors }
    } else {
      answer = { id: message.id, error: { message: `unexpected result type ${response.resultType}` } }
    }
  } catch (error) {
    answer = { id: message.id, error: { message: String(error) } }
  }
  process.stdout.write(JSON.stringify(answer) + '\n')
}
