// Types of /vendor/addon-fit.mjs (served from @xterm/addon-fit by src/serve/static.ts).
export * from '@xterm/addon-fit';
