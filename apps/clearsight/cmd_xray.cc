#include <cstdio>

#include "commands.h"

namespace clearsight::cli {

int CmdXray(int argc, char** argv, int first) {
  std::fprintf(stderr, "error: the xray commands are not built yet\n");
  return 2;
}

}  // namespace clearsight::cli
