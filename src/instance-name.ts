// What may name an instance (a pod or a host) in X-Served-By and `servedBy`:
// ours from POD_NAME or HOSTNAME, and a greeter's, copied into the splitter's
// answer. Kubernetes names are DNS names (at most 253 characters); the rule is a
// little wider (any printable ASCII) so a host's own naming still passes, and
// narrow enough that a name is always a valid header value of bounded size.
export const MAX_INSTANCE_NAME_LENGTH = 253;

const INSTANCE_NAME = new RegExp(`^[\\x21-\\x7e]{1,${MAX_INSTANCE_NAME_LENGTH}}$`);

export function isInstanceName(value: string): boolean {
  return INSTANCE_NAME.test(value);
}

export const INSTANCE_NAME_RULE = `a pod or host name: 1 to ${MAX_INSTANCE_NAME_LENGTH} printable ASCII characters, no spaces`;
