/* main.c: the concert group's FastCGI executable. */
#include "cr_server.h"
#include "routes.h"

int main(void)
{
    cr_server_ops(concert_ops_routes, concert_nops);
    cr_route_before_gate(concert_before_gate);
    return cr_server_main("concert", concert_routes, concert_nroutes);
}
