/* main.c: the reservation group's FastCGI executable. */
#include "cr_server.h"
#include "routes.h"

int main(void)
{
    return cr_server_main("reservation", reservation_routes, reservation_nroutes);
}
