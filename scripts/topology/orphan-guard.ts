// Preload for pod processes (see parent-watch.ts): exit once the start process is gone.
import { watchParent } from "./parent-watch";

watchParent(() => process.exit(0));
