/**
 * The syntax tree of the terminal's shell language, a subset of bash (see docs/shell.md):
 * simple commands with assignments and redirections, pipelines (with `!`), `&&`/`||` lists,
 * `if`, `for` (both forms), `case`, `while`/`until`, `{ …; }`, `( … )` and `(( … ))`. Words keep their parts
 * (literal text, parameters, command and arithmetic substitutions, glob characters) so that
 * expansion follows bash's order: brace expansion, tilde, parameters and substitutions, field
 * splitting of unquoted results, pathname expansion.
 */

/** `${NAME<op>WORD}`: the operators kho supports. */
export type ParamOp =
  | {
      readonly kind: 'default' | 'assign' | 'alternate' | 'error';
      readonly colon: boolean;
      readonly word: Word;
    }
  | { readonly kind: 'length' }
  | {
      readonly kind: 'trim';
      readonly from: 'prefix' | 'suffix';
      readonly longest: boolean;
      readonly word: Word;
    };

/**
 * A piece of a word. `text` is literal (quoted or not: never split or globbed); `glob` is an
 * unquoted `*`, `?` or `[`; `brace` an unquoted `{`, `,` or `}` (brace expansion); the
 * expansions carry `quoted` (inside double quotes: no field splitting, no pathname expansion).
 */
export type WordPart =
  | { readonly text: string }
  | { readonly glob: '*' | '?' | '[' }
  | { readonly brace: '{' | ',' | '}' }
  | { readonly tilde: true }
  | { readonly param: string; readonly quoted: boolean; readonly op?: ParamOp }
  | { readonly subst: Script; readonly quoted: boolean }
  | { readonly arith: Word; readonly quoted: boolean };

/** One shell word before expansion. */
export type Word = readonly WordPart[];

/** Redirection operators: `<`, `>`, `>>`, `N>&M`/`N<&M` (dup), `<<<` (here-string). */
export type RedirectOp = '<' | '>' | '>>' | '>&' | '<<<';

/** A redirection: `fd op target`; for `>&` the target is the source fd (`1`, `2`) or `-`. */
export interface Redirect {
  readonly fd: number;
  readonly op: RedirectOp;
  readonly target: Word;
}

/** `NAME=value` before a command (or alone). */
export interface Assignment {
  readonly name: string;
  readonly value: Word;
}

/** Where a command starts in its script, for `set -e` reports and `$LINENO`. */
export interface SourceSpan {
  /** 1-based line of the first token. */
  readonly line: number;
}

/** A simple command: assignments, words and redirections. */
export interface SimpleCommand extends SourceSpan {
  readonly type: 'simple';
  readonly assigns: readonly Assignment[];
  readonly words: readonly Word[];
  readonly redirects: readonly Redirect[];
}

/** `if C; then B; [elif C; then B;]… [else B;] fi`. */
export interface IfCommand extends SourceSpan {
  readonly type: 'if';
  readonly branches: readonly { readonly cond: Script; readonly body: Script }[];
  readonly otherwise: Script | null;
  readonly redirects: readonly Redirect[];
}

/** `for NAME [in WORD…]; do B; done` (no `in`: the positional parameters). */
export interface ForCommand extends SourceSpan {
  readonly type: 'for';
  readonly name: string;
  readonly items: readonly Word[] | null;
  readonly body: Script;
  readonly redirects: readonly Redirect[];
}

/** `for (( INIT; TEST; STEP )); do B; done`: the three expressions in one word, split on `;`. */
export interface ArithForCommand extends SourceSpan {
  readonly type: 'arithfor';
  readonly exprs: Word;
  readonly body: Script;
  readonly redirects: readonly Redirect[];
}

/** `case WORD in PATTERN[|PATTERN]…) LIST ;; … esac`. */
export interface CaseCommand extends SourceSpan {
  readonly type: 'case';
  readonly word: Word;
  readonly items: readonly { readonly patterns: readonly Word[]; readonly body: Script }[];
  readonly redirects: readonly Redirect[];
}

/** `while C; do B; done` and `until C; do B; done`. */
export interface WhileCommand extends SourceSpan {
  readonly type: 'while';
  readonly until: boolean;
  readonly cond: Script;
  readonly body: Script;
  readonly redirects: readonly Redirect[];
}

/** `{ LIST; }` (same shell) or `( LIST )` (subshell: variables and the directory are restored). */
export interface GroupCommand extends SourceSpan {
  readonly type: 'group';
  readonly subshell: boolean;
  readonly body: Script;
  readonly redirects: readonly Redirect[];
}

/** `(( EXPR ))`: status 0 when the arithmetic value is non-zero. */
export interface ArithCommand extends SourceSpan {
  readonly type: 'arith';
  readonly expr: Word;
  readonly redirects: readonly Redirect[];
}

/** Any command. */
export type Command =
  | SimpleCommand
  | IfCommand
  | ForCommand
  | ArithForCommand
  | CaseCommand
  | WhileCommand
  | GroupCommand
  | ArithCommand;

/** Commands joined by `|` (`|&` adds `2>&1` to the left side), optionally negated with `!`. */
export interface Pipeline extends SourceSpan {
  readonly bang: boolean;
  readonly commands: readonly Command[];
}

/** A pipeline in an and-or list; the first has op null. */
export interface AndOrItem {
  readonly op: '&&' | '||' | null;
  readonly pipeline: Pipeline;
}

/** Pipelines joined by `&&`/`||`, with the source text (for `set -e` reports). */
export interface AndOrList extends SourceSpan {
  readonly items: readonly AndOrItem[];
  /** The list's source text, as typed. */
  readonly text: string;
}

/** And-or lists separated by `;` or newlines. */
export type Script = readonly AndOrList[];
