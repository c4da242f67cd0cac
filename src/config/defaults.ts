/** Where embedded mode places PostgreSQL's binaries when run as root (EMBEDDED_DATABASE_RUNTIME_DIR). */
export const DEFAULT_RUNTIME_DIR = '/var/lib/callvault-embedded';
