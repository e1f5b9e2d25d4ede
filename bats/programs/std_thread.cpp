// std_thread - a std::thread starts with its creator's context.
//
// Output:
//   child: request_id=42
//   main: request_id=42
#include <thread>
#include "show.h"

int main()
{
    set_or_say("request_id", "42");
    std::thread child([] { show("child"); });
    child.join();
    show("main");
    return 0;
}
