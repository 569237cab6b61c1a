/* main.c: the payment group's FastCGI executable. */
#include "cr_server.h"
#include "routes.h"

int main(void)
{
    return cr_server_main("payment", payment_routes, payment_nroutes);
}
