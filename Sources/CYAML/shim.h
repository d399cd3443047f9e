// libyaml's C API (Debian's libyaml-dev, pkg-config yaml-0.1) for RingConfig's YAML reader:
// the event parser only; nothing here is on the request path.
#include <yaml.h>
