// Runs graphql-http's GraphQL-over-HTTP server audit against a running qrefund API and
// prints the results as JSON lines. Usage: node audit.mjs <url> <api key> <node_modules>
// The key is sent with every request, as a real client would (anonymous callers may
// only reach public fields, see qrefund/graphql_schema/gate.py).
import { createRequire } from 'node:module';

const [url, key, modules] = process.argv.slice(2);
const { auditServer } = createRequire(`${modules}/`)('graphql-http');
const fetchFn = (input, init = {}) => fetch(input, {
  ...init,
  headers: { ...(init.headers || {}), authorization: `Bearer ${key}` },
});
const results = await auditServer({ url, fetchFn });
for (const result of results) {
  console.log(JSON.stringify({
    id: result.id, name: result.name, status: result.status,
    reason: result.status === 'ok' ? null : result.reason,
  }));
}
