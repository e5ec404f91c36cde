// Every role this component can play. Adding one: a file beside this one, an entry
// here, and an overlay in kustomize/overlays/ that sets ROLE to its name.
import { greeter } from "./greeter";
import { splitter } from "./splitter";

export const ROLES = [greeter, splitter] as const;

export type Role = (typeof ROLES)[number]["name"];

export const ROLE_NAMES: readonly Role[] = ROLES.map((role) => role.name);
