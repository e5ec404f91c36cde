import { ensureBuilt } from "../scripts/lib/build";

export default function setup() {
  ensureBuilt();
}
