/* test_products.c - placeholder */
int main(void)
{
    return 0;
}
