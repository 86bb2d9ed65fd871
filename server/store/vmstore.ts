/**
 * VM configs: one JSON file per VM (`<data>/vms/<uuid>.json`), written atomically and validated
 * with VmConfigSchema on load. A file that fails to parse is reported (and left untouched for a
 * human to fix), never silently dropped or overwritten.
 */
import fs from 'node:fs';
import path from 'node:path';
import { VmConfigSchema, type VmConfig } from '../../lib/schemas/vm';
import { ensureDir, removeStaleTempFiles, writeJsonAtomic } from './atomic';

export interface StoreProblem {
  file: string;
  message: string;
}

const FILE_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.json$/;

export class VmStore {
  private readonly configs = new Map<string, VmConfig>();
  problems: StoreProblem[] = [];

  constructor(private readonly dir: string) {}

  load(): void {
    ensureDir(this.dir, 0o700);
    removeStaleTempFiles(this.dir);
    this.configs.clear();
    this.problems = [];
    for (const name of fs.readdirSync(this.dir).sort()) {
      if (!name.endsWith('.json')) continue;
      const file = path.join(this.dir, name);
      if (!FILE_RE.test(name)) {
        this.problems.push({ file, message: 'not named <uuid>.json; ignored' });
        continue;
      }
      try {
        const parsed = VmConfigSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
        if (!parsed.success) {
          const i = parsed.error.issues[0];
          this.problems.push({ file, message: `invalid config: ${i.path.join('.') || '(root)'}: ${i.message}` });
          continue;
        }
        if (`${parsed.data.id}.json` !== name) {
          this.problems.push({ file, message: `the id inside (${parsed.data.id}) does not match the file name` });
          continue;
        }
        if ([...this.configs.values()].some((c) => c.name === parsed.data.name)) {
          this.problems.push({ file, message: `duplicate VM name "${parsed.data.name}"` });
          continue;
        }
        this.configs.set(parsed.data.id, parsed.data);
      } catch (e) {
        this.problems.push({ file, message: `unreadable: ${(e as Error).message}` });
      }
    }
  }

  all(): VmConfig[] {
    return [...this.configs.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(id: string): VmConfig | undefined {
    return this.configs.get(id);
  }

  byName(name: string): VmConfig | undefined {
    for (const c of this.configs.values()) if (c.name === name) return c;
    return undefined;
  }

  /** Validates, writes atomically, then updates memory: the file is the truth. */
  save(config: VmConfig): VmConfig {
    const valid = VmConfigSchema.parse(config);
    writeJsonAtomic(this.fileOf(valid.id), valid);
    this.configs.set(valid.id, valid);
    return valid;
  }

  delete(id: string): void {
    fs.rmSync(this.fileOf(id), { force: true });
    this.configs.delete(id);
  }

  fileOf(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }
}
