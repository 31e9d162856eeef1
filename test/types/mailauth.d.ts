// The slice of mailauth's DKIM verifier the tests use (the package ships no types for it).
declare module 'mailauth/lib/dkim/verify' {
  type Resolver = (name: string, type: string) => Promise<string[][]>;
  export function dkimVerify(
    message: Buffer,
    options: { resolver: Resolver },
  ): Promise<{ results: Array<{ signingDomain: string; selector: string; status: { result: string; comment?: string } }> }>;
}
