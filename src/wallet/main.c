/* main.c: the wallet group's FastCGI executable. */
#include "cr_server.h"
#include "routes.h"

int main(void)
{
    return cr_server_main("wallet", wallet_routes, wallet_nroutes);
}
