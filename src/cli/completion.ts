// `catena completion bash|zsh`: prints a tab-completion script, generated from the same lists
// the help shows (subcommands.ts: the commands, their actions and options; the command table's
// hidden commands left out), so it cannot fall behind them.
//
//   bash:  source <(catena completion bash)        (or save it in ~/.local/share/bash-completion/completions/catena)
//   zsh:   source <(catena completion zsh)         (after compinit; or save it as _catena in $fpath)
//
// The script completes commands (also after options given before the command, as in
// `catena -p 7000 g<TAB>`), a command's actions (`chain add`), its options, and the value of an
// option that names a file, a directory or a host. It runs no `catena` process while completing.

import { commandTable, isCommandName } from '../commands/index.js';
import { CatenaError } from '../core/errors.js';
import type { FlagSpec } from './args.js';
import { connectionFlags } from './connection.js';
import { exitCodes } from './exit-codes.js';
import { completionShells, subcommands, type Subcommand } from './subcommands.js';

export const completionHelp = `Usage: catena completion bash|zsh

Prints a shell completion script for catena: its commands, their actions and options.

  bash:  source <(catena completion bash)     in ~/.bashrc, or save the output as
         ~/.local/share/bash-completion/completions/catena
  zsh:   source <(catena completion zsh)      in ~/.zshrc after compinit, or save the output
         as _catena in a directory of $fpath
`;

export function runCompletion(argv: readonly string[]): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(completionHelp);
    return exitCodes.ok;
  }
  const [shell, extra] = argv;
  if (shell === 'bash' && extra === undefined) process.stdout.write(bashScript());
  else if (shell === 'zsh' && extra === undefined) process.stdout.write(zshScript());
  else throw new CatenaError('ERR_INVALID_ARGUMENT', `expected ${completionShells.join(' or ')}\n\n${completionHelp}`);
  return exitCodes.ok;
}

/** What an option's value is, for completing it. */
function valueKind(name: string): 'file' | 'dir' | 'host' | 'other' {
  if (name === 'host') return 'host';
  if (name === 'out' || name.endsWith('dir')) return 'dir';
  if (/(file|-ca|-cert|-key|^config|^json|^report)$/.test(name)) return 'file';
  return 'other';
}

/** Every way to write the options of a spec, and those that take a value. */
function options(spec: FlagSpec): { all: string[]; valued: string[] } {
  const all: string[] = [];
  const valued: string[] = [];
  for (const [name, flag] of Object.entries(spec)) {
    if (flag.aliasOf !== undefined) continue;
    const forms = [`--${name}`, ...(flag.short === undefined ? [] : [`-${flag.short}`])];
    all.push(...forms);
    if (flag.kind === 'string') valued.push(...forms);
  }
  return { all, valued };
}

/** Option words whose value is of `kind`, over every command (the same name means the same everywhere). */
function valuedOfKind(kind: 'file' | 'dir' | 'host'): string[] {
  const words = new Set<string>();
  for (const command of subcommands) {
    for (const [name, flag] of Object.entries(command.flags)) {
      if (flag.kind !== 'string' || flag.aliasOf !== undefined || valueKind(name) !== kind) continue;
      words.add(`--${name}`);
      if (flag.short !== undefined) words.add(`-${flag.short}`);
    }
  }
  return [...words];
}

/** Commands with the same actions and options share one case branch. */
function groups(): { names: string[]; command: Subcommand }[] {
  const out: { names: string[]; command: Subcommand }[] = [];
  for (const command of subcommands) {
    const same = out.find(
      (group) => group.command.flags === command.flags && group.command.actions === command.actions,
    );
    if (same === undefined) out.push({ names: [command.name], command });
    else same.names.push(command.name);
  }
  return out;
}

const leadingValued = (): string => options(connectionFlags).valued.join('|');

export function bashScript(): string {
  const branches = groups().map(({ names, command }) => {
    const { all, valued } = options(command.flags);
    return `    ${names.join('|')})\n      actions="${command.actions.join(' ')}"\n      flags="${all.join(' ')}"\n      valued=" ${valued.join(' ')} " ;;`;
  });
  return `# bash completion for catena (catena completion bash); generated, do not edit.
# Use: source <(catena completion bash)
_catena() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local i=1 cmd="" at=0
  # The command is the first word that is not an option (options may come before it).
  while [[ $i -lt $COMP_CWORD ]]; do
    case "\${COMP_WORDS[i]}" in
      ${leadingValued()}) i=$((i + 2)) ;;
      -*) i=$((i + 1)) ;;
      *) cmd="\${COMP_WORDS[i]}"; at=$i; break ;;
    esac
  done
  case "$prev" in
    ${valuedOfKind('file').join('|')})
      COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
    ${valuedOfKind('dir').join('|')})
      COMPREPLY=($(compgen -d -- "$cur")); return 0 ;;
    ${valuedOfKind('host').join('|')})
      COMPREPLY=($(compgen -A hostname -- "$cur")); return 0 ;;
  esac
  if [[ -z "$cmd" ]]; then
    case "$prev" in ${leadingValued()}) COMPREPLY=(); return 0 ;; esac
    if [[ "$cur" == -* ]]; then
      COMPREPLY=($(compgen -W "--help --version ${options(connectionFlags).all.join(' ')}" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "${subcommands.map((c) => c.name).join(' ')} help" -- "$cur"))
    fi
    return 0
  fi
  local actions="" flags="" valued=" "
  case "$cmd" in
${branches.join('\n')}
    *) return 0 ;;
  esac
  if [[ "$valued" == *" $prev "* ]]; then COMPREPLY=(); return 0; fi
  if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "$flags" -- "$cur")); return 0; fi
  if [[ -n "$actions" ]]; then
    local j=$((at + 1)) seen=""
    while [[ $j -lt $COMP_CWORD ]]; do
      [[ " $actions " == *" \${COMP_WORDS[j]} "* ]] && seen=1
      j=$((j + 1))
    done
    [[ -z "$seen" ]] && COMPREPLY=($(compgen -W "$actions" -- "$cur")) && return 0
  fi
  [[ "$cmd" == restore ]] && COMPREPLY=($(compgen -d -- "$cur"))
  return 0
}
complete -F _catena catena
`;
}

/** `name:summary` for zsh's _describe; colons in a summary are escaped. */
function described(name: string): string {
  const summary = isCommandName(name) ? commandTable[name].summary : (subcommandSummaries[name] ?? '');
  return `'${name}:${summary.replaceAll(':', '\\:').replaceAll("'", "'\\''")}'`;
}

const subcommandSummaries: Record<string, string> = {
  up: 'start a local cluster',
  server: 'run a node',
  shell: 'interactive shell',
  status: 'chains, slots, members, lag, slot moves',
  chain: 'add, remove, show or rebuild chains',
  dump: "save each chain's table to a file",
  restore: 'load a dump into a running cluster',
  bench: 'YCSB-style load',
  completion: 'print a shell completion script',
};

export function zshScript(): string {
  const branches = groups().map(({ names, command }) => {
    const { all, valued } = options(command.flags);
    return `    ${names.join('|')})\n      actions=(${command.actions.join(' ')})\n      flags=(${all.join(' ')})\n      valued=(${valued.join(' ')}) ;;`;
  });
  return `#compdef catena
# zsh completion for catena (catena completion zsh); generated, do not edit.
# Use: source <(catena completion zsh) after compinit, or save as _catena in $fpath.
_catena() {
  local cur="\${words[CURRENT]}" prev="\${words[CURRENT-1]}"
  local -i i=2 at=0
  local cmd=""
  while (( i < CURRENT )); do
    case "\${words[i]}" in
      ${leadingValued()}) (( i += 2 )) ;;
      -*) (( i += 1 )) ;;
      *) cmd="\${words[i]}"; at=$i; break ;;
    esac
  done
  case "$prev" in
    ${valuedOfKind('file').join('|')}) _files; return ;;
    ${valuedOfKind('dir').join('|')}) _files -/; return ;;
    ${valuedOfKind('host').join('|')}) _hosts; return ;;
  esac
  if [[ -z "$cmd" ]]; then
    if [[ "$cur" == -* ]]; then
      compadd -- --help --version ${options(connectionFlags).all.join(' ')}
    else
      local -a commands
      commands=(${[...subcommands.map((c) => c.name)].map(described).join(' ')} 'help:show the commands')
      _describe 'command' commands
    fi
    return
  fi
  local -a actions flags valued
  case "$cmd" in
${branches.join('\n')}
    *) return ;;
  esac
  (( \${valued[(Ie)$prev]} )) && return
  if [[ "$cur" == -* ]]; then compadd -- $flags; return; fi
  if (( \${#actions} )); then
    local -i j=$(( at + 1 )) seen=0
    while (( j < CURRENT )); do
      (( \${actions[(Ie)\${words[j]}]} )) && seen=1
      (( j += 1 ))
    done
    (( seen )) || { compadd -- $actions; return; }
  fi
  if [[ "$cmd" == restore ]]; then _files -/; fi
}
# Sourced: register the function. Autoloaded from $fpath as _catena: this file is the
# function's body, so complete now.
if [[ "\${zsh_eval_context[-1]}" == file ]]; then
  compdef _catena catena
else
  _catena "$@"
fi
`;
}
