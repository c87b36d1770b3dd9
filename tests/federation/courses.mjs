// The courses subgraph (@apollo/subgraph): its courses come from the JSON file COURSES names
// ({"COSC-10": {"title": ..., "term": "201809", "enrollments": [["f000abc", "letter"], ...]}}),
// served on 127.0.0.1:PORT. It never asks studentgraph anything: the gateway does.
import { readFileSync } from 'node:fs';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';

const here = new URL('.', import.meta.url);
const typeDefs = parse(readFileSync(new URL('courses.graphql', here), 'utf8'));
const courses = JSON.parse(readFileSync(process.env.COURSES, 'utf8'));

const course = (id) => courses[id] && { id, ...courses[id] };
const resolvers = {
  Query: {
    course: (_, { id }) => course(id),
    courses: () => Object.keys(courses).map(course),
  },
  Course: {
    term: (c) => ({ __typename: 'SisTerm', id: c.term }),
    enrollments: (c) =>
      c.enrollments.map(([netid, grading]) => ({ student: { __typename: 'Student', netid }, grading })),
  },
};

const server = new ApolloServer({ schema: buildSubgraphSchema({ typeDefs, resolvers }) });
const { url } = await startStandaloneServer(server, {
  listen: { host: '127.0.0.1', port: Number(process.env.PORT) },
});
console.log(`courses subgraph at ${url}`);
