// The graphql-http audit of the GraphQL-over-HTTP spec against a running server:
//   node tests/http_audit/audit.mjs http://127.0.0.1:8000/graphql
// Prints one line per audit, "<status>\t<id>\t<name>\t<reason>" (status: ok, notice for a
// failed MAY, warn for a failed SHOULD, error for a failed MUST), and exits 1 when any MUST or
// SHOULD failed. tests/e2e/test_graphql_http_audit.py runs it against the served app.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <url of /graphql>');
  process.exit(2);
}
const results = await auditServer({ url });
for (const result of results) {
  const reason = result.status === 'ok' ? '' : result.reason.replace(/\s+/g, ' ');
  console.log([result.status, result.id, result.name, reason].join('\t'));
}
const failed = results.filter((r) => r.status === 'warn' || r.status === 'error');
process.exit(failed.length ? 1 : 0);
