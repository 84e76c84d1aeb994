// verify_pattern values (HOWTO verify_pattern): hex numbers (0x...) taken
// byte by byte as written, decimal numbers stored in the fewest bytes that
// hold them (least significant first, at most 4), and "quoted strings",
// concatenated in the order given.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace iostack::job {

bool parse_verify_pattern(const std::string& text, std::vector<std::uint8_t>* out,
                          std::string* why);

}  // namespace iostack::job
