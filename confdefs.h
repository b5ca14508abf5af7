/* confdefs.h */
#define PACKAGE_NAME "bilhetagem"
#define PACKAGE_TARNAME "bilhetagem"
#define PACKAGE_VERSION "0.1.0"
#define PACKAGE_STRING "bilhetagem 0.1.0"
#define PACKAGE_BUGREPORT "https://github.com/bilhetagem/bilhetagem/issues"
#define PACKAGE_URL ""
#define PACKAGE "bilhetagem"
#define VERSION "0.1.0"
#define BH_HAVE_POSTGRESQL 1
