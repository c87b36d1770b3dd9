// PostGraphile v5 for `make bench-peer`: the Amber preset (what v5 recommends to start from),
// with list fields beside the connections as v4 runs with `--simple-collections both`, so that
// both versions answer the same queries by the same field names; and the global node id named
// `nodeId` as v4 names it, so that `id` is the table's own column in both. Read by
// `postgraphile -C graphile.config.mjs`; the database from PEER_DATABASE_URL, the port from
// PEER_PORT.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({ connectionString: process.env.PEER_DATABASE_URL, schemas: ["public"] }),
  ],
  schema: {
    defaultBehavior: "+connection +resource:connection +list +resource:list",
    nodeIdFieldName: "nodeId",
  },
  grafserv: {
    host: "127.0.0.1",
    port: Number(process.env.PEER_PORT),
    graphiql: false,
    watch: false,
  },
  grafast: { explain: false },
};

export default preset;
