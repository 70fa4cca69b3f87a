// Types of /vendor/xterm.mjs (served from @xterm/xterm by src/serve/static.ts).
export * from '@xterm/xterm';
