// Runs Apache Iceberg's REST catalog test fixture (the server of the
// apache/iceberg-rest-fixture image, org.apache.iceberg.rest.RESTCatalogServer)
// listening on 127.0.0.1 only: the fixture's own main binds every interface.
// The catalog is built exactly as the fixture builds it (its
// initializeBackendCatalog: CATALOG_* environment variables as catalog
// properties, a JdbcCatalog by default) and served by the fixture's own
// adapter and servlet (RESTServerCatalogAdapter, RESTCatalogServlet) in Jetty,
// as its start() does; only the connector differs (host 127.0.0.1, port
// CATALOG_REST_PORT).
//
// Usage (single-file source launch, Java 17+):
//   CATALOG_REST_PORT=8181 CATALOG_WAREHOUSE=file:///path CATALOG_URI=jdbc:sqlite:/path/db \
//     java -cp iceberg-open-api-<version>.jar RestCatalogLoopback.java
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import org.apache.iceberg.rest.RESTCatalogAdapter;
import org.apache.iceberg.rest.RESTCatalogServlet;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.gzip.GzipHandler;
import org.eclipse.jetty.servlet.ServletContextHandler;
import org.eclipse.jetty.servlet.ServletHolder;

public class RestCatalogLoopback {
  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(System.getenv("CATALOG_REST_PORT"));
    Class<?> fixtureClass = Class.forName("org.apache.iceberg.rest.RESTCatalogServer");
    Constructor<?> fixtureCtor = fixtureClass.getDeclaredConstructor();
    fixtureCtor.setAccessible(true);
    Object fixture = fixtureCtor.newInstance();
    Method init = fixtureClass.getDeclaredMethod("initializeBackendCatalog");
    init.setAccessible(true);
    Object catalogContext = init.invoke(fixture);
    Class<?> adapterClass = Class.forName("org.apache.iceberg.rest.RESTServerCatalogAdapter");
    Constructor<?> adapterCtor = adapterClass.getDeclaredConstructor(catalogContext.getClass());
    adapterCtor.setAccessible(true);
    RESTCatalogAdapter adapter = (RESTCatalogAdapter) adapterCtor.newInstance(catalogContext);

    ServletContextHandler context = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
    context.addServlet(new ServletHolder(new RESTCatalogServlet(adapter)), "/*");
    context.insertHandler(new GzipHandler());
    Server server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    connector.setPort(port);
    server.addConnector(connector);
    server.setHandler(context);
    server.start();
    server.join();
  }
}
