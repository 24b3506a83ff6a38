// Shared by `pnpm start` and `pnpm cluster`: a child's stdout and stderr, line by line, behind its name.
export function prefixOutput(child, name) {
  const forward = (stream, out) =>
    stream.on("data", (chunk) => {
      for (const line of chunk.toString().split("\n")) if (line) out.write(`[${name}] ${line}\n`);
    });
  forward(child.stdout, process.stdout);
  forward(child.stderr, process.stderr);
}
