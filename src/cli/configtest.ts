/** `nodewsgi configtest -f FILE`: check a configuration as `apachectl configtest` does. */
import type { CommonOptions } from "./main";
import { loadConfigOrReport } from "./load-config";

export async function runConfigtest(options: CommonOptions): Promise<number> {
  const config = loadConfigOrReport(options);
  if (!config) return 1;
  process.stdout.write("Syntax OK\n");
  return 0;
}
