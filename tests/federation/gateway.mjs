// Apollo Gateway (@apollo/gateway on @apollo/server) in front of studentgraph and the courses
// subgraph, planning each query on the supergraph compose.mjs composes, and forwarding the
// caller's Authorization header to every subgraph: the configuration docs/operations/supergraph.md
// shows. Serves on 127.0.0.1:PORT; query plans are shown with `Apollo-Query-Plan-Experimental`.
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { compose } from './compose.mjs';

// Each request to a subgraph carries the caller's token: studentgraph decides with it, as it
// decides any request (scopes, FERPA), and refuses a request without one.
class ForwardingDataSource extends RemoteGraphQLDataSource {
  willSendRequest({ request, context }) {
    if (context.authorization) request.http.headers.set('authorization', context.authorization);
  }
}

const gateway = new ApolloGateway({
  supergraphSdl: compose({
    studentsSdl: process.env.STUDENTS_SDL,
    studentsUrl: process.env.STUDENTS_URL,
    coursesUrl: process.env.COURSES_URL,
  }),
  buildService: ({ url }) => new ForwardingDataSource({ url }),
  __exposeQueryPlanExperimental: true,
});
// A subgraph's HTTP error (studentgraph's 401 to a request without a token) is answered with
// its code (UNAUTHENTICATED), not with the subgraph's address and raw response.
const formatError = (formatted) => {
  const { response, ...extensions } = formatted.extensions ?? {};
  return { ...formatted, extensions };
};
const server = new ApolloServer({ gateway, formatError });
const { url } = await startStandaloneServer(server, {
  listen: { host: '127.0.0.1', port: Number(process.env.PORT) },
  context: async ({ req }) => ({ authorization: req.headers.authorization }),
});
console.log(`gateway at ${url}`);
