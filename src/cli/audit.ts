export async function runAudit(_args: string[]): Promise<number> {
  process.stderr.write('callvault audit: this command is not available yet\n');
  return 2;
}
