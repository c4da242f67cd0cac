import { S3ServiceException, type S3Client } from '@aws-sdk/client-s3';

type CommandClass<I> = new (input: I) => { input: I };
type Handler<I> = (input: I, call: number) => unknown;

/**
 * A stand-in for S3Client: records every command sent and answers from handlers registered per
 * command class, the latest registration winning (an empty object when none is). It carries the few config members lib-storage's
 * Upload reads, so real Upload instances run against it.
 */
export class FakeS3Client {
  readonly sent: Array<{ input: object }> = [];
  readonly config = {
    requestChecksumCalculation: async (): Promise<string> => 'WHEN_REQUIRED',
    endpoint: async () => ({ protocol: 'http:', hostname: 'fake-s3.invalid', port: undefined, path: '/' }),
    forcePathStyle: true,
    requestHandler: undefined,
  };
  private readonly handlers: Array<{ cls: CommandClass<never>; handler: Handler<never>; calls: number }> = [];

  on<I>(cls: CommandClass<I>, handler: Handler<I>): this {
    this.handlers.push({ cls: cls as unknown as CommandClass<never>, handler: handler as Handler<never>, calls: 0 });
    return this;
  }

  async send(command: { input: object }): Promise<unknown> {
    this.sent.push(command);
    const entry = this.handlers.findLast((h) => command instanceof h.cls);
    if (!entry) return {};
    entry.calls += 1;
    return entry.handler(command.input as never, entry.calls);
  }

  /** Inputs of the commands of one class, in the order they were sent. */
  inputs<I>(cls: CommandClass<I>): I[] {
    return this.sent.filter((c) => c instanceof cls).map((c) => c.input as I);
  }

  asClient(): S3Client {
    return this as unknown as S3Client;
  }
}

/** An error shaped like the SDK's for a failed S3 request. */
export function s3Error(name: string, httpStatusCode: number): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
    message: `${name} (simulated)`,
  });
}
