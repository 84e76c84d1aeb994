#include <cstdio>

int main() {
  std::puts("iostack: no commands yet");
  return 1;
}
