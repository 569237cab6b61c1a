/* main.c: the queue group's FastCGI executable. */
#include "cr_server.h"
#include "routes.h"

int main(void)
{
    return cr_server_main("queue", queue_routes, queue_nroutes);
}
