// The main command. The collector and the demo gateway are not built yet;
// say so plainly instead of pretending.
console.log(`SessionLens: the foundation (protocol, codec, validation) is in place.
The collector and the demo gateway are not built yet, so there is nothing to start.
Run the tests with: npx -y pnpm@10 test`);
