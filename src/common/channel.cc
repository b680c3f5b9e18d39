#include "clearsight/channel.h"

#include <string>

namespace clearsight {

std::string_view ChannelName(Channel c) {
  switch (c) {
    case Channel::kGreen:
      return "green";
    case Channel::kYellow:
      return "yellow";
    case Channel::kRed:
      return "red";
  }
  return "green";
}

Result<Channel> ParseChannel(std::string_view name) {
  if (name == "green") return Channel::kGreen;
  if (name == "yellow") return Channel::kYellow;
  if (name == "red") return Channel::kRed;
  return Status::InvalidArgument("unknown channel '" + std::string(name) +
                                 "' (green, yellow or red)");
}

}  // namespace clearsight
