export async function runKeys(_args: string[]): Promise<number> {
  process.stderr.write('callvault keys: this command is not available yet\n');
  return 2;
}
