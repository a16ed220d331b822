#!/usr/bin/env node
// better-sqlite3 and sqlite3 install with `prebuild-install || node-gyp rebuild`: failing here
// sends them to the compiler, so no prebuilt binary is ever downloaded.
console.error('no-prebuild: building from source (prebuilt binaries are not downloaded)');
process.exit(1);
