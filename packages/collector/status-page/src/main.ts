import "./styles.css";
import { startStatusPage } from "./app.js";

startStatusPage();
