/**
 * Which fenced blocks of the docs are meant to run, and how each is checked. A block in a language
 * that runs (TypeScript/JavaScript, shell) is run or typechecked by the doc tests unless a comment
 * right before it says why not:
 *
 *   <!-- illustrative: <why it cannot run here> -->   neither run nor typechecked
 *   <!-- typecheck only: <why it cannot run here> --> TypeScript that is typechecked, not run
 */
import { codeBlocks, docFiles, readDoc, type CodeBlock } from "./markdown.js";

export const TS_LANGS = new Set(["ts", "typescript", "js", "javascript", "mjs", "tsx"]);
export const SHELL_LANGS = new Set(["sh", "bash", "shell", "console", "zsh"]);
export const MARKERS = new Set(["illustrative", "typecheck only"]);

export function allBlocks(): CodeBlock[] {
  return docFiles().flatMap((file) => codeBlocks(readDoc(file)));
}

export const isRunnableLang = (block: CodeBlock): boolean => TS_LANGS.has(block.lang) || SHELL_LANGS.has(block.lang);
export const isIllustrative = (block: CodeBlock): boolean => block.marker?.kind === "illustrative";
export const isTypecheckOnly = (block: CodeBlock): boolean => block.marker?.kind === "typecheck only";
