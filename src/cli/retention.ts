export async function runRetention(_args: string[]): Promise<number> {
  process.stderr.write('callvault retention: this command is not available yet\n');
  return 2;
}
