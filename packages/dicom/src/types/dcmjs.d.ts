// dcmjs ships no type declarations; we type the small surface we use where we use it.
declare module 'dcmjs' {
  export const data: {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    DicomDict: any;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    DicomMessage: any;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    DicomMetaDictionary: any;
  };
  type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';
  export const log: {
    setLevel(level: LogLevel): void;
    getLogger(name: string): { setLevel(level: LogLevel): void };
  };
}
