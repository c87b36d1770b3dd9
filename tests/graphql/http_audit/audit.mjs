// graphql-http's server audits (GraphQL over HTTP conformance) against a running studentgraph.
// Usage: node audit.mjs URL TOKEN; prints one JSON line per audit: {id, name, status, reason}.
// The API needs a bearer token on every request, so fetch adds it; nothing else is changed.
import { serverAudits } from 'graphql-http';

const [url, token] = process.argv.slice(2);
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};

for (const audit of serverAudits({ url, fetchFn })) {
  const result = await audit.fn();
  const reason = result.status === 'ok' ? null : result.reason;
  console.log(JSON.stringify({ id: result.id, name: result.name, status: result.status, reason }));
}
