// Apollo's composition (@apollo/composition, what `rover supergraph compose` runs): studentgraph's
// subgraph SDL (the file STUDENTS_SDL: its `_service { sdl }`) with the courses subgraph's.
// Run by itself, it prints the supergraph SDL, or each composition error and exits 1.
import { readFileSync } from 'node:fs';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';

export function compose({ studentsSdl, studentsUrl, coursesUrl }) {
  const here = new URL('.', import.meta.url);
  const result = composeServices([
    { name: 'students', url: studentsUrl, typeDefs: parse(readFileSync(studentsSdl, 'utf8')) },
    {
      name: 'courses',
      url: coursesUrl,
      typeDefs: parse(readFileSync(new URL('courses.graphql', here), 'utf8')),
    },
  ]);
  if (result.errors) {
    for (const error of result.errors) console.error(`composition error: ${error.message}`);
    process.exit(1);
  }
  for (const hint of result.hints) console.error(`composition hint: ${hint.toString()}`);
  return result.supergraphSdl;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(
    compose({
      studentsSdl: process.env.STUDENTS_SDL,
      studentsUrl: 'http://students.invalid/graphql',
      coursesUrl: 'http://courses.invalid/graphql',
    }),
  );
}
