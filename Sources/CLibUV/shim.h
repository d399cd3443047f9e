// The C surface of libuv that RingServer uses, plus a few socket headers the listener needs
// to set SO_REUSEPORT before handing the descriptor to libuv (libuv 1.44 has no flag for it).
#include <uv.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <unistd.h>
#include <signal.h>
#include <errno.h>
