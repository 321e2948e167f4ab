"use strict";
// fastify hello world: the usual "fast Node framework" reference point.
const fastify = require("fastify")({ logger: false });

const port = Number(process.argv[2]);
fastify.all("/*", (request, reply) => {
  reply.type("text/plain").send("Hello World!");
});
fastify.listen({ port, host: "127.0.0.1" }).then(
  () => process.stdout.write(`listening ${port}\n`),
  (err) => {
    process.stderr.write(`fastify-hello: ${err.message}\n`);
    process.exit(1);
  },
);
