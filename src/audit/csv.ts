/**
 * CSV for audit exports (RFC 4180, CRLF line ends), made to round-trip exactly so that an
 * exported file re-hashes to the stored values:
 * - a NULL is an empty unquoted cell; every string, even an empty one, is quoted;
 * - a string that a spreadsheet could run as a formula (first character = + - @ TAB CR) gets a
 *   leading apostrophe, and so does one that already starts with an apostrophe, so a reader
 *   strips exactly one leading apostrophe from any quoted cell that has one.
 */

const FORMULA_START = /^[=+\-@\t\r']/;

export function encodeCsvText(value: string | null): string {
  if (value === null) return '';
  const safe = FORMULA_START.test(value) ? `'${value}` : value;
  return `"${safe.replace(/"/g, '""')}"`;
}

export function csvRecord(cells: readonly string[]): string {
  return `${cells.join(',')}\r\n`;
}

export interface CsvCell { readonly text: string; readonly quoted: boolean }

/** The value a cell encodes: null for an empty unquoted cell. */
export function decodeCsvCell(cell: CsvCell): string | null {
  if (!cell.quoted) return cell.text === '' ? null : cell.text;
  return cell.text.startsWith("'") ? cell.text.slice(1) : cell.text;
}

/** Incremental parser: feed text chunks, get complete records; quoted cells may span lines. */
export class CsvParser {
  private cells: CsvCell[] = [];
  private text = '';
  private quoted = false;
  /** inQuotes: inside a quoted cell; afterQuote: just saw a quote inside one (end or escape). */
  private inQuotes = false;
  private afterQuote = false;
  private sawAny = false;

  push(chunk: string): CsvCell[][] {
    const out: CsvCell[][] = [];
    for (let i = 0; i < chunk.length; i++) {
      const record = this.step(chunk[i] as string);
      if (record) out.push(record);
    }
    return out;
  }

  /** The last record when the input did not end with a line break. */
  end(): CsvCell[][] {
    if (this.inQuotes && !this.afterQuote) throw new Error('CSV ends inside a quoted cell');
    this.inQuotes = false;
    this.afterQuote = false;
    if (!this.sawAny) return [];
    this.endCell();
    return [this.takeRecord()];
  }

  private step(ch: string): CsvCell[] | null {
    if (this.inQuotes) {
      if (this.afterQuote) {
        this.afterQuote = false;
        if (ch === '"') { this.text += '"'; return null; }
        this.inQuotes = false;
        return this.unquotedStep(ch);
      }
      if (ch === '"') this.afterQuote = true;
      else this.text += ch;
      return null;
    }
    return this.unquotedStep(ch);
  }

  private unquotedStep(ch: string): CsvCell[] | null {
    if (ch === '\r') return null;
    this.sawAny = true;
    if (ch === ',') { this.endCell(); return null; }
    if (ch === '\n') { this.endCell(); return this.takeRecord(); }
    if (ch === '"') {
      if (this.quoted || this.text !== '') throw new Error('CSV has a quote inside an unquoted cell');
      this.quoted = true;
      this.inQuotes = true;
      return null;
    }
    if (this.quoted) throw new Error('CSV has text after a closing quote');
    this.text += ch;
    return null;
  }

  private endCell(): void {
    this.cells.push({ text: this.text, quoted: this.quoted });
    this.text = '';
    this.quoted = false;
  }

  private takeRecord(): CsvCell[] {
    const record = this.cells;
    this.cells = [];
    this.sawAny = false;
    return record;
  }
}
