import { readFileSync } from 'node:fs';

// Read once at load: the package.json beside src/ (dev) or dist/ (production install).
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};
export const version: string = pkg.version;
export const userAgent = `gong-bridge/${version} (node ${process.versions.node})`;
