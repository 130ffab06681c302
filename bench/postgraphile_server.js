// PostGraphile 4 as a library behind Node's own http server: the third server of
// `python -m bench.compare` (see bench/postgraphile.py, which installs postgraphile@4
// under bench/results/postgraphile and starts this script pinned to core 0).
//
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/qrefund_bench_refunds \
//   POSTGRAPHILE_MODULES=bench/results/postgraphile/node_modules \
//   node bench/postgraphile_server.js <port>
//
// Every request runs in one transaction as `qrefund_app` with the tenant setting that
// the row-level security policies read (qrefund/migrations/rls.py), taken from the
// Bearer key exactly as bench/reads_floor.py does: the first 32 hex digits of its
// third `_`-separated part. GET /healthz answers 200 once the schema is built (the
// port only opens then). No GraphiQL, no watch mode, no query log, no CRUD mutations.
"use strict";

const http = require("http");
const path = require("path");
const { createRequire } = require("module");

const modules = path.resolve(process.env.POSTGRAPHILE_MODULES || "node_modules");
const load = createRequire(path.join(modules, "noop.js"));
const { postgraphile } = load("postgraphile");
const { Pool } = load("pg");

const port = Number(process.argv[2]);
if (!port || !process.env.DATABASE_URL) {
  console.error("usage: DATABASE_URL=... node postgraphile_server.js <port>");
  process.exit(2);
}

function tenantOf(req) {
  // "Bearer qrk_<prefix>_<32 hex tenant><...>" -> uuid text; anything else -> no tenant
  // (the policies then show no rows at all).
  const token = (req.headers.authorization || "").replace(/^Bearer /, "");
  const hex = (token.split("_")[2] || "").slice(0, 32).toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) return "";
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20),
    hex.slice(20)].join("-");
}

// The floor's pool holds at most 10 connections too.
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });

const handler = postgraphile(pool, "public", {
  graphiql: false,
  watchPg: false,
  disableQueryLog: true,
  ignoreRBAC: false,
  retryOnInitFail: false,
  disableDefaultMutations: true,
  legacyRelations: "omit",
  showErrorStack: false,
  extendedErrors: [],
  enableCors: false,
  pgSettings: (req) => ({
    role: "qrefund_app",
    "qrefund.tenant_ids": tenantOf(req),
    "qrefund.all_tenants": "off",
  }),
});

const server = http.createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end("ok");
    return;
  }
  handler(req, res);
});

handler
  .getGraphQLSchema()
  .then(() => server.listen(port, "127.0.0.1"))
  .catch((error) => {
    console.error("PostGraphile could not build its schema:", error);
    process.exit(1);
  });

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    server.close();
    pool.end().finally(() => process.exit(0));
  });
}
