// The channels a consignment can be sent to. A bottom header: rules demand a channel, findings
// carry a floor, selection assigns one, and none of them may include the others for it.
#pragma once

#include <string_view>

#include "clearsight/status.h"

namespace clearsight {

// Ordered: a higher channel is a stronger check, so max() of two demands is the one to honour.
enum class Channel { kGreen = 0, kYellow = 1, kRed = 2 };

std::string_view ChannelName(Channel c);  // "green", "yellow", "red"
// InvalidArgument naming the value for anything but "green", "yellow" or "red".
Result<Channel> ParseChannel(std::string_view name);

}  // namespace clearsight
