// A TypeDoc plugin for docs/api (`npm run docs:api`): a class that extends another lists only
// the members it adds or overrides, so the typed commands of ClientCommands are documented once,
// not again under Client and ClusterClient (each page says what it extends).
import { Converter, ReflectionKind } from 'typedoc';

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_END, (context) => {
    const project = context.project;
    for (const owner of project.getReflectionsByKind(ReflectionKind.Class)) {
      for (const member of [...(owner.children ?? [])]) {
        if (member.inheritedFrom !== undefined && member.overwrites === undefined) project.removeReflection(member);
      }
    }
  });
}
